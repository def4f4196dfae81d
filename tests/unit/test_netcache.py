"""simulate's import cache (sim/netcache.py): a second import of the same scenario is read from the
cache and gives the same files and models; a changed network, configuration or code re-imports; an
entry that is corrupt is re-built with a warning, never trusted."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from controller.config import load_config
from sim import netcache
from sim.netimport import import_network, junction_tables, read_net

ROOT = Path(__file__).resolve().parents[2]
CITY = ROOT / "sim" / "scenarios" / "city"
CFG = load_config(ROOT / "config.toml")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """The cache in a folder of the test's; the imports it makes counted (`netcache.imports`)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    calls: list[int] = []

    def counted(*args, **kwargs):
        calls.append(1)
        return junction_tables(*args, **kwargs)

    monkeypatch.setattr(netcache, "_junction_tables", counted)
    netcache.imports = calls  # type: ignore[attr-defined]
    return tmp_path / "xdg" / "tsc" / "netimport"


def _import(net: Path, out: Path, cfg=CFG, additional=(), begin_s=0.0):
    return netcache.cached_import(net, out, cfg, list(additional), "generated", begin_s, lambda: read_net(net))


def _models(result) -> list[str]:
    """The models imported, each as its repr with the file it came from left out (folders differ)."""
    return [repr(dataclasses.replace(j, source=Path(j.source).name)) for j in result.junctions().values()]


def _plain(net: Path, out: Path) -> list[str]:
    return _models(import_network(net, out, CFG, [], "generated", 0.0))


def _files(folder: Path) -> dict[str, bytes]:
    return {fp.name: fp.read_bytes() for fp in sorted(folder.iterdir())}


def test_a_second_import_is_read_from_the_cache_the_same(cache, tmp_path):
    net = CITY / "city.net.xml"
    first = _import(net, tmp_path / "a")
    second = _import(net, tmp_path / "b")
    assert len(netcache.imports) == 1  # the second read from the cache
    plain = import_network(net, tmp_path / "plain", CFG, [], "generated", 0.0)
    assert _files(tmp_path / "a") == _files(tmp_path / "b") == _files(tmp_path / "plain")
    assert _models(second) == _models(first) == _models(plain)
    assert second.skipped == plain.skipped and [p.name for p in second.written] == [p.name for p in plain.written]
    assert len(list(cache.glob("*.json"))) == 1


def test_a_read_from_the_cache_builds_its_models_once(cache, tmp_path, monkeypatch):
    """The entry's models, built to validate it, are the run's: not built again from the same tables
    (about 0.01-0.03 s of a start), and equal to those read back from the folder."""
    from controller import junctions as jmod
    from sim import importfiles

    net = CITY / "city.net.xml"
    _import(net, tmp_path / "a")
    built: list[int] = []

    def counted(files):
        built.append(len(files))
        return jmod.intersections_from_tables(files)

    monkeypatch.setattr(netcache, "intersections_from_tables", counted)
    monkeypatch.setattr(importfiles, "intersections_from_tables", counted)
    second = _import(net, tmp_path / "b")
    models = second.junctions()
    assert len(built) == 1 and len(netcache.imports) == 1
    assert models == jmod.load_intersections(tmp_path / "b") and models is not second.junctions()


def test_a_changed_network_is_imported_again(cache, tmp_path):
    net = tmp_path / "city.net.xml"
    shutil.copy(CITY / "city.net.xml", net)
    before = _models(_import(net, tmp_path / "a"))
    text = net.read_text()
    assert '<phase duration="31" state="GGGgrrrrGGGgrrrr"/>' in text
    longer = '<phase duration="41" state="GGGgrrrrGGGgrrrr"/>'
    net.write_text(text.replace('<phase duration="31" state="GGGgrrrrGGGgrrrr"/>', longer, 1))
    after = _models(_import(net, tmp_path / "b"))
    assert len(netcache.imports) == 2
    assert after != before  # the new program's green, not the entry of the old network
    assert after == _plain(net, tmp_path / "plain")


def test_the_configuration_and_the_code_are_in_the_key(cache, tmp_path, monkeypatch):
    net = CITY / "city.net.xml"
    _import(net, tmp_path / "a")
    longer = dataclasses.replace(CFG, timing=dataclasses.replace(CFG.timing, max_green_s=CFG.timing.max_green_s + 7))
    _import(net, tmp_path / "b", cfg=longer)
    assert len(netcache.imports) == 2
    # a section the import does not read
    other_policy = dataclasses.replace(CFG, webster=dataclasses.replace(CFG.webster, period_s=360.0))
    _import(net, tmp_path / "c", cfg=other_policy)
    assert len(netcache.imports) == 2
    monkeypatch.setattr(netcache, "code_digest", lambda: "another version of the code")
    _import(net, tmp_path / "d")
    assert len(netcache.imports) == 3


class _Unread:
    """A configuration section the import must not read."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, field: str):
        raise AssertionError(f"the import read [{self.name}] {field}: add the section to netcache.IMPORT_SECTIONS")


def test_the_import_reads_only_the_sections_in_the_key():
    """The key holds IMPORT_SECTIONS only: an import that read another section could be served an
    entry made under another value of it."""
    unread = {
        f.name: _Unread(f.name)
        for f in dataclasses.fields(CFG)
        if f.name not in netcache.IMPORT_SECTIONS and f.name != "source"
    }
    net = read_net(CITY / "city.net.xml")
    add = [CITY / "city.add.xml"]
    for detectors in ("generated", "city"):
        plain = junction_tables(net, CFG, str(CITY / "city.net.xml"), add, detectors, 0.0)
        only = junction_tables(net, dataclasses.replace(CFG, **unread), str(CITY / "city.net.xml"), add, detectors, 0.0)
        assert only == plain


@pytest.mark.parametrize(
    "damage", ["garbage", "cut short", "altered", "another key", "invalid model", "one file too many"]
)
def test_a_corrupt_entry_is_rebuilt_with_a_warning(cache, tmp_path, caplog, damage):
    net = CITY / "city.net.xml"
    _import(net, tmp_path / "a")
    (entry,) = cache.glob("*.json")
    text = entry.read_text()
    digest, _, body = text.partition("\n")
    if damage == "garbage":
        entry.write_text("not an entry")
    elif damage == "cut short":
        entry.write_text(text[: len(text) // 2])
    elif damage == "altered":  # the content changed, its sha256 kept
        entry.write_text(f"{digest}\n{body.replace('min_green_s', 'max_green_s', 1)}")
    else:  # sound to its sha256, but not this import's or not a model: never trusted
        import hashlib

        if damage == "another key":
            body = body.replace(entry.stem, "0" * 64)
        elif damage == "one file too many":  # a junction file with no table: the models would not say what it holds
            kept = json.loads(body)
            name, text_of = kept["texts"][-1]
            kept["texts"].append([f"more_{name}", text_of])
            body = json.dumps(kept)
        else:
            body = body.replace('"min_green_s": ', '"min_green_s": -', 1)
        entry.write_text(f"{hashlib.sha256(body.encode()).hexdigest()}\n{body}")
    with caplog.at_level(logging.WARNING, logger="sim.netcache"):
        again = _import(net, tmp_path / "b")
    assert len(netcache.imports) == 2  # imported again
    assert any(str(entry) in r.getMessage() and "imported again" in r.getMessage() for r in caplog.records)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _models(again) == _plain(net, tmp_path / "plain")
    assert entry.read_text() == text  # rewritten sound: the next run reads it
    _import(net, tmp_path / "c")
    assert len(netcache.imports) == 2


def test_a_folder_that_cannot_be_written_imports_as_without_a_cache(cache, tmp_path):
    cache.parent.mkdir(parents=True)
    cache.write_text("a file where the folder should be")
    net = CITY / "city.net.xml"
    _import(net, tmp_path / "a")
    _import(net, tmp_path / "b")
    assert len(netcache.imports) == 2
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_the_least_recently_used_entries_beyond_the_bound_are_removed(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(netcache, "MAX_ENTRIES", 2)
    net = CITY / "city.net.xml"
    for k in range(3):
        cfg = dataclasses.replace(CFG, timing=dataclasses.replace(CFG.timing, max_green_s=60.0 + k))
        _import(net, tmp_path / f"o{k}", cfg=cfg)
    assert len(list(cache.glob("*.json"))) == 2
    newest = dataclasses.replace(CFG, timing=dataclasses.replace(CFG.timing, max_green_s=62.0))
    _import(net, tmp_path / "again", cfg=newest)
    assert len(netcache.imports) == 3  # the newest kept


def test_the_begin_the_detectors_and_the_additional_files_are_in_the_key(cache, tmp_path):
    """Each input of the import beside the network and the configuration takes its own entry: the
    run's begin (a WAUT's program at the begin), the detectors' source, and each additional file
    by its content (its programs and loops)."""
    net = CITY / "city.net.xml"
    add = tmp_path / "city.add.xml"
    shutil.copy(CITY / "city.add.xml", add)

    def imported(begin_s=0.0, detectors="generated", additional=()):
        out = tmp_path / f"o{len(netcache.imports)}"
        netcache.cached_import(net, out, CFG, list(additional), detectors, begin_s, lambda: read_net(net))
        return len(netcache.imports)

    assert imported() == 1
    assert imported(begin_s=3600.0) == 2
    assert imported(detectors="city", additional=[add]) == 3
    assert imported(additional=[add]) == 4
    add.write_text(add.read_text() + "<!-- edited -->\n")
    assert imported(additional=[add]) == 5
    assert imported() == imported(begin_s=3600.0) == imported(additional=[add]) == 5  # each still held


def test_an_entry_read_is_kept_over_an_older_one_unread(cache, tmp_path, monkeypatch):
    """The bound removes the least recently *used* entry: one read since is kept."""
    monkeypatch.setattr(netcache, "MAX_ENTRIES", 2)
    net = CITY / "city.net.xml"
    cfgs = [dataclasses.replace(CFG, timing=dataclasses.replace(CFG.timing, max_green_s=60.0 + k)) for k in range(3)]
    for k, age_s in ((0, 1000), (1, 2000)):  # o0's entry the oldest, then o1's
        _import(net, tmp_path / f"o{k}", cfg=cfgs[k])
        (entry,) = set(cache.glob("*.json")) - {fp for fp in cache.glob("*.json") if fp.stat().st_mtime < 3000}
        os.utime(entry, (age_s, age_s))
    _import(net, tmp_path / "read", cfg=cfgs[0])  # read: now the most recently used
    _import(net, tmp_path / "o2", cfg=cfgs[2])  # beyond the bound: o1's, unread, goes
    assert len(netcache.imports) == 3
    _import(net, tmp_path / "again", cfg=cfgs[0])
    assert len(netcache.imports) == 3


def test_another_sumolib_gives_another_code_digest(tmp_path, monkeypatch):
    """The import reads the network through sumolib: another sumolib (a file of it changed) gives another key."""
    import importlib.util

    fake = tmp_path / "sumolib" / "__init__.py"
    fake.parent.mkdir()
    fake.write_text("version = 1\n")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: importlib.util.spec_from_file_location(name, fake))
    netcache.code_digest.cache_clear()
    before = netcache.code_digest()
    fake.write_text("version = 22\n")
    netcache.code_digest.cache_clear()
    assert netcache.code_digest() != before
    netcache.code_digest.cache_clear()  # the real sumolib's again for the tests after

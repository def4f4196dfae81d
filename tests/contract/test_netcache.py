"""The network import's cache (sim/netcache.py): a cached import is the fresh one, value for value
and byte for byte; any changed input imports again; a broken cache is only a cache."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

import sim.netimport
from controller.config import load_config, with_section
from sim import netcache
from sim.netimport import import_network, read_net
from tests.netbuild import additional, cluster_net, tl_logic
from tests.scenarios import grid_net, spider_net

ROOT = Path(__file__).resolve().parents[2]
CITY_NET = ROOT / "sim" / "scenarios" / "city" / "city.net.xml"
CFG = load_config(ROOT / "config.toml")


def _skipping(work: Path) -> tuple[Path, list[Path]]:
    """A network whose only light is skipped (an additional program with one green stage)."""
    net = cluster_net(work)
    n_links = len(next(iter(read_net(net).getTrafficLights()[0].getPrograms().values())).getPhases()[0].state)
    return net, [additional(work, "one.add.xml", tl_logic("J", "one", [(90, "G" * n_links)]))]


@pytest.fixture(scope="module", params=["city", "grid", "spider", "skipped"])
def scenario(request, tmp_path_factory) -> tuple[Path, list[Path]]:
    if request.param == "city":
        return CITY_NET, []
    work = tmp_path_factory.mktemp(request.param)
    if request.param == "skipped":
        return _skipping(work)
    return (grid_net(work) if request.param == "grid" else spider_net(work)), []


def _no_read(monkeypatch) -> None:
    """From here on, a network read fails the test: what follows comes from the cache."""

    def refuse(path):
        raise AssertionError(f"the network {path} was read")

    monkeypatch.setattr(sim.netimport, "read_net", refuse)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _models(result) -> list[str]:
    return [repr(dataclasses.replace(j, source="")) for j in result.junctions().values()]


def test_a_cached_import_is_the_fresh_one(scenario, tmp_path, monkeypatch):
    net, add = scenario
    fresh = import_network(net, tmp_path / "fresh", CFG, add)
    first = import_network(net, tmp_path / "first", CFG, add, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1
    _no_read(monkeypatch)
    kept = import_network(net, tmp_path / "kept", CFG, add, cache_dir=tmp_path / "cache")
    for result, folder in ((first, "first"), (kept, "kept")):
        assert repr(result.tables) == repr(fresh.tables)  # types too: 1 is not 1.0, a tuple not a list
        assert result.skipped == fresh.skipped
        assert _models(result) == _models(fresh)
        assert _files(tmp_path / folder) == _files(tmp_path / "fresh")
    assert fresh.skipped or fresh.tables


def test_the_skipped_scenario_skips(tmp_path):
    net, add = _skipping(tmp_path)
    assert import_network(net, tmp_path / "o", CFG, add, cache_dir=tmp_path / "cache").skipped


def _key(net: Path, add: list[Path], cfg=CFG, detectors="generated", begin_s=None) -> str:
    return netcache.import_key(net, cfg, add, detectors, begin_s)


def test_every_input_is_in_the_key(tmp_path, monkeypatch):
    net, add = _skipping(tmp_path)
    base = _key(net, add)
    assert _key(net, add) == base
    changed = {
        "detectors": _key(net, add, detectors="city"),
        "begin": _key(net, add, begin_s=0.0),
        "config": _key(net, add, cfg=with_section(CFG, "timing", {"yellow_s": CFG.timing.yellow_s + 1.0}, "t")),
        "no additional file": _key(net, []),
    }
    add[0].write_text(add[0].read_text().replace('duration="90"', 'duration="91"'))
    changed["an additional file's bytes"] = _key(net, add)
    net.write_bytes(net.read_bytes() + b"\n")
    changed["the network's bytes"] = _key(net, add)
    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(netcache, "CODE_PACKAGES", (code,))
    before = _key(net, add)
    (code / "pkg" / "a.py").write_text("x = 22\n")
    changed["a source of the importer"] = _key(net, add)
    assert changed["a source of the importer"] != before
    keys = [base, *changed.values()]
    assert len(set(keys)) == len(keys), changed


def test_a_changed_network_is_imported_again(tmp_path, monkeypatch):
    net = grid_net(tmp_path)
    import_network(net, tmp_path / "a", CFG, cache_dir=tmp_path / "cache")
    text = net.read_text()
    assert 'duration="' in text
    net.write_text(text.replace('duration="', 'duration="1', 1))
    reads = []
    real = sim.netimport.read_net
    monkeypatch.setattr(sim.netimport, "read_net", lambda p: reads.append(p) or real(p))
    again = import_network(net, tmp_path / "b", CFG, cache_dir=tmp_path / "cache")
    assert reads == [net]
    assert repr(again.tables) == repr(import_network(net, tmp_path / "c", CFG).tables)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2


@pytest.mark.parametrize("damage", ["empty", "not json", "no texts", "a text short"])
def test_a_broken_entry_imports_and_is_replaced(damage, tmp_path):
    net = grid_net(tmp_path)
    fresh = import_network(net, tmp_path / "fresh", CFG)
    import_network(net, tmp_path / "a", CFG, cache_dir=tmp_path / "cache")
    (entry,) = (tmp_path / "cache").glob("*.json")
    text = entry.read_text()
    broken = {
        "empty": "",
        "not json": text[: len(text) // 2],
        "no texts": text.replace('"texts"', '"other"'),
        "a text short": json.dumps({**json.loads(text), "texts": json.loads(text)["texts"][1:]}),
    }[damage]
    entry.write_text(broken)
    again = import_network(net, tmp_path / "b", CFG, cache_dir=tmp_path / "cache")
    assert repr(again.tables) == repr(fresh.tables) and _files(tmp_path / "b") == _files(tmp_path / "fresh")
    assert entry.read_text() == text


def test_the_oldest_entries_beyond_the_kept_number_go(tmp_path, monkeypatch):
    monkeypatch.setattr(netcache, "KEPT_FILES", 2)
    folder = tmp_path / "cache"
    for i in range(3):
        netcache.cached_import(folder, f"k{i}", lambda: ([], [], []))
        os.utime(folder / f"k{i}.json", ns=(i * 10**9, i * 10**9))
    netcache.cached_import(folder, "k0", lambda: ([], [], []))  # used again: now the newest
    netcache.cached_import(folder, "k3", lambda: ([], [], []))
    assert sorted(p.name for p in folder.glob("*.json")) == ["k0.json", "k3.json"]


def test_the_cache_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert netcache.import_cache_dir() == tmp_path / "tsc" / "netimport"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert netcache.import_cache_dir() == tmp_path / "home" / ".cache" / "tsc" / "netimport"

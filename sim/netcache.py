"""`simulate`'s cache of imported junction models: a second run of the same scenario skips the import.

import_network (sim/netimport.py) reads the network with sumolib and derives every junction model:
about 0.1-0.15 s of CPU on the city, a tenth of `simulate`'s start (BENCHMARKS.md, issue 12). Its
result depends only on what it reads, so `simulate` keeps it in `cache_dir()` under a key of all of
that (`entry_key`):
- the network file and each additional file SUMO loads, by path and by content (sha256 of the bytes);
- the import's options: the detectors' source and the run's begin (a WAUT's program at the begin);
- the configuration's sections the import reads (IMPORT_SECTIONS; tests/unit/test_netcache.py fails
  when the import reads another);
- the code: a content hash of every module of the `controller` and `sim` packages, Python's version
  and sumolib's files. Any edit re-imports: a stale model can never be served by an old entry.

An entry holds the junction files' texts, their tables and the lights skipped, with a sha256 of it
all on its first line. It is never trusted: an entry that is unreadable, not of its key, altered or
whose models do not validate is logged (a warning naming the file and why) and the network imported
again, the entry rewritten. Entries are written whole then renamed (runs started together read a
whole entry or none); the least recently used beyond MAX_ENTRIES are removed. A cache folder that
cannot be written is no reason not to run: the import runs as without a cache (logged).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import json
import logging
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.config import Config
from controller.junctions import intersections_from_tables
from controller.model import Intersection
from sim.importfiles import ImportResult, file_texts, write_import
from sim.sumo import options_cache_dir

log = logging.getLogger(__name__)

FORMAT = 1  # of an entry; a new layout takes a new number
# the configuration's sections junction_tables reads (tests/unit/test_netcache.py checks it reads no other)
IMPORT_SECTIONS = ("pcu", "timing", "detectors", "saturation")
MAX_ENTRIES = 128  # about 0.2-1 MB each (the city: 0.37 MB)
_PACKAGES = ("controller", "sim")


def cache_dir() -> Path:
    """Where simulate keeps imported junction models: $XDG_CACHE_HOME/tsc/netimport, else ~/.cache/tsc/netimport."""
    return options_cache_dir() / "netimport"


@functools.cache
def code_digest() -> str:
    """sha256 of the text of every module of the `controller` and `sim` packages (by path within
    the package), Python's version and sumolib's installed files (by path, size and modification
    time; sumolib is not imported for it): any edit of the code, or another sumolib, gives another."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(f"python {platform.python_version()}".encode())
    for package in _PACKAGES:
        for fp in sorted((root / package).rglob("*.py")):
            h.update(f"\0{fp.relative_to(root).as_posix()}\0".encode())
            h.update(fp.read_bytes())
    spec = importlib.util.find_spec("sumolib")
    if spec is not None and spec.origin is not None:
        for fp in sorted(Path(spec.origin).parent.rglob("*.py")):
            st = fp.stat()
            h.update(f"\0sumolib {fp} {st.st_size} {st.st_mtime_ns}".encode())
    return h.hexdigest()


def entry_key(net_path: str | Path, cfg: Config, additional: list[Path], detectors: str, begin_s: float | None) -> str:
    """The key of an import (module docstring). Raises OSError when a file cannot be read."""
    files = [Path(net_path), *additional]
    head = {
        "format": FORMAT,
        "code": code_digest(),
        "files": [str(fp.resolve()) for fp in files],
        "detectors": detectors,
        "begin_s": begin_s,
        "config": {s: dataclasses.asdict(getattr(cfg, s)) for s in IMPORT_SECTIONS},
    }
    h = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
    for fp in files:
        h.update(hashlib.sha256(fp.read_bytes()).digest())
    return h.hexdigest()


def cached_import(
    net_path: str | Path,
    out_dir: str | Path,
    cfg: Config,
    additional: list[Path],
    detectors: str,
    begin_s: float | None,
    read: Callable[[], Any],
) -> ImportResult:
    """import_network's result and files in out_dir, from the cache when an entry of this import's
    key is there and sound, else imported (`read()`: the network, read_net) and kept. Raises what
    the import raises (NoTrafficLights, NetworkError)."""
    try:
        entry = cache_dir() / f"{entry_key(net_path, cfg, additional, detectors, begin_s)}.json"
    except (OSError, RuntimeError):  # a file the import will name, or no home folder: not cached
        entry = None
    kept = _load(entry, out_dir) if entry is not None and entry.is_file() else None
    if kept is not None:
        return write_import(out_dir, *kept)
    tables, skipped = _junction_tables(read(), cfg, str(net_path), additional, detectors, begin_s)
    texts = file_texts(tables, net_path)
    if entry is not None:
        _store(entry, texts, tables, skipped)
    return write_import(out_dir, texts, tables, skipped)


def _junction_tables(*args: Any) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """sim/netimport.py's junction_tables, imported when the cache misses (with sumolib)."""
    from sim.netimport import junction_tables

    return junction_tables(*args)


def _load(
    entry: Path, out_dir: str | Path
) -> tuple[list[tuple[str, str]], list[Any], list[tuple[str, str]], dict[str, Intersection]] | None:
    """(texts, tables, skipped, models) of a sound entry, else None with a warning naming the file and
    why; `models` the junction models its files hold, built to validate it (ImportResult.models)."""
    try:
        digest, _, body = entry.read_text(encoding="utf-8").partition("\n")
        if hashlib.sha256(body.encode()).hexdigest() != digest:
            raise ValueError("its sha256 does not match its content (altered or cut short)")
        kept = json.loads(body)
        if kept.get("key") != entry.stem or kept.get("format") != FORMAT:
            raise ValueError("it is not this import's entry")
        texts = [(str(name), str(text)) for name, text in kept["texts"]]
        tables, skipped = list(kept["tables"]), [(str(t), str(w)) for t, w in kept["skipped"]]
        if len(texts) != len(tables):
            raise ValueError("its files and tables differ in number")
        models = intersections_from_tables([(Path(out_dir) / n, t) for (n, _), t in zip(texts, tables)])  # validates
    except Exception as exc:  # never trusted: any fault is a miss
        log.warning("import cache entry %s not used (%s): the network is imported again", entry, exc)
        return None
    os.utime(entry)  # recently used (MAX_ENTRIES)
    return texts, tables, skipped, models


def _store(entry: Path, texts: list[tuple[str, str]], tables: list[Any], skipped: list[tuple[str, str]]) -> None:
    """The entry written whole then renamed; the least recently used beyond MAX_ENTRIES removed.
    A folder that cannot be written: logged, the run goes on."""
    part = entry.with_name(f"{entry.name}.{os.getpid()}.part")
    try:
        body = json.dumps({"format": FORMAT, "key": entry.stem, "texts": texts, "tables": tables, "skipped": skipped})
        entry.parent.mkdir(parents=True, exist_ok=True)
        part.write_text(f"{hashlib.sha256(body.encode()).hexdigest()}\n{body}", encoding="utf-8")
        os.replace(part, entry)
        _prune(entry.parent)
    except (OSError, TypeError, ValueError) as exc:  # TypeError / ValueError: a table JSON cannot hold
        log.info("import cache %s not written (%s): the next run imports again", entry.parent, exc)
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    """The least recently used entries beyond MAX_ENTRIES removed (another run's at once: ignored)."""
    entries = []
    for fp in folder.glob("*.json"):
        try:
            entries.append((fp.stat().st_mtime, fp))
        except OSError:
            continue
    for _, fp in sorted(entries, reverse=True)[MAX_ENTRIES:]:
        fp.unlink(missing_ok=True)
